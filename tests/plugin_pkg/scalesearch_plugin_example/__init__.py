"""An example scalesearch plugin: its entry point imports ``families``, which registers one family."""
