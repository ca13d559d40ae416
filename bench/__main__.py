from bench.cli import main

if __name__ == "__main__":  # not when a helper process is spawned
    main()
