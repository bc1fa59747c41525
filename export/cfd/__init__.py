"""Surrogates inside CFD codes: cases that run a real solver with an exported model (code_saturne/)."""
