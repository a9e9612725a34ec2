"""The tutorial scripts are jupytext sources of the notebooks, not modules to import: nbmake
runs the notebooks, and ``--doctest-modules`` must not execute a tutorial at collection."""
collect_ignore_glob = ["[0-9][0-9]_*.py"]
