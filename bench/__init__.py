"""Measurements run by hand (`python bench/<name>.py`), each against a baseline measured in the
same run; a package so that the type checker and the tests name them as `bench.<name>`."""
