"""Stage 4: the command line: thin commands (console) over the library, and their output."""
