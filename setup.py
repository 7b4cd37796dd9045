"""The one compiled part: the XML walk (decp_monitor/parse/_xmlwalk.c). Everything else is in pyproject.toml."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("decp_monitor.parse._xmlwalk", ["decp_monitor/parse/_xmlwalk.c"],
                             extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"])])
