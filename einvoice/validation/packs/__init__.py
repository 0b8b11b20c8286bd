"""Rule packs: which XSD and which Schematron chain validate which document (KoSIT "scenarios")."""

from .model import RulePack, Scenario, SchematronStep, Suppression
from .registry import PackRegistry, RouteResult

__all__ = ["PackRegistry", "RouteResult", "RulePack", "Scenario", "SchematronStep", "Suppression"]
