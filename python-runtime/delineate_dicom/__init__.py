"""Delineate's DICOM output: SEG objects written with highdicom, in a light environment.

Kept apart from ``delineate_runtime`` (PyTorch): annotation-only users export to their PACS
without installing a training stack. Only the standard library, numpy, pydicom and
highdicom are imported here (pynetdicom for the network; dicom-anonymizer for the PS3.15
Basic Profile table that ``deid.py`` applies: why that one, and why not its anonymizer,
dicognito or deid, is said there).
"""

__version__ = "0.1.0"
