//! Data-quality report (R3): completeness, conformance, plausibility.
