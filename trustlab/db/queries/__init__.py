"""One module per entity: each query lives in the module of the table it reads."""
