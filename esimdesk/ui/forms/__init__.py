"""Python compiled by pyside6-uic from the Designer forms in the top-level ui/ folder: never edit by hand;
run `python tools/compile_forms.py` after changing a .ui file (tests/ui/test_forms_compiled.py checks)."""
