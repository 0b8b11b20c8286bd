"""The project's own ISO Schematron compiler: .sch -> XSLT 3.0 emitting SVRL (run by Saxon)."""

from .compiler import SchematronError, compile_file, compiled_path

__all__ = ["SchematronError", "compile_file", "compiled_path"]
