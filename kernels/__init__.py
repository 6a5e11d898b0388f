"""Fast ops (installed as ``cogmodels.kernels``).

Each kernel has a plain reference implementation beside it and a test that the
two agree; ``benchmarks/`` shows the speed ratio.
"""
