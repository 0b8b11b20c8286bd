"""The validation steps, one per file, in the order the engine runs them (see DEFAULT_STEPS)."""

from .apply_custom_levels import ApplyCustomLevels
from .check_plausibility import CheckPlausibility
from .check_xsd import CheckXsd
from .decide import Decide
from .identify import Identify
from .parse_xml import ParseXml
from .read_input import ReadInput
from .run_schematron import RunSchematron
from .select_scenario import SelectScenario
from .unpack_pdf import UnpackPdf

__all__ = [
    "ApplyCustomLevels", "CheckPlausibility", "CheckXsd", "Decide", "Identify", "ParseXml", "ReadInput", "RunSchematron",
    "SelectScenario", "UnpackPdf",
]
