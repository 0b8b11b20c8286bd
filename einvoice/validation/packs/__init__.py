"""Rule packs: which XSD and which Schematron chain validate which document (KoSIT "scenarios")."""

from .model import RulePack, Scenario, SchematronStep
from .registry import PackRegistry, RouteResult

__all__ = ["PackRegistry", "RouteResult", "RulePack", "Scenario", "SchematronStep"]
