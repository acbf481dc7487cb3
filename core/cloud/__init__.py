"""Cloud Code's machinery: the registry user code fills (`registry.py`), its validators
(`validators.py`), what a handler receives (`requests.py`), Parse values to and from Python
(`codec.py`) and loading the user's module (`loader.py`). The public names are `parsnip.cloud`'s.
"""
