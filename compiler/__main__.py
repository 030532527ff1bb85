from .cli import main

# Guarded: a process started by "spawn" (a Dask worker, a multiprocessing child) imports this
# module again under another name, and must not run the command a second time.
if __name__ == "__main__":
    main()
