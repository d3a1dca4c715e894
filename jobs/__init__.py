"""spark-submit entry points; each module has main(argv=None) and a __main__ guard."""
