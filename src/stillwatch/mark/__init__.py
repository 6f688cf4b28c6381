"""Keyed two-layer watermarks: generation bias, exact detection, account attribution."""

from stillwatch.mark.combined import CombinedResult, LayerTuples, score_combined
from stillwatch.mark.config import LayerParams, MarkConfig
from stillwatch.mark.detect import (
    AttributionResult,
    BatchDetection,
    DetectionResult,
    attribute_ids,
    attribute_pairs,
    detect_ids,
    detect_many,
    score_pairs,
)
from stillwatch.mark.keys import KeyRing, LayerKey, MasterKey
from stillwatch.mark.marker import Marker
from stillwatch.mark.spec import WatermarkSpec

__all__ = [
    "AttributionResult",
    "BatchDetection",
    "CombinedResult",
    "DetectionResult",
    "KeyRing",
    "LayerKey",
    "LayerTuples",
    "LayerParams",
    "MarkConfig",
    "Marker",
    "MasterKey",
    "WatermarkSpec",
    "attribute_ids",
    "attribute_pairs",
    "detect_ids",
    "detect_many",
    "score_combined",
    "score_pairs",
]
