"""The household escalation risk model: fit/predict, calibration, reasons, pyfunc wrapper."""
