"""The write and read pipelines: named stages, each in a module of its own.

A write: build the command (`core/commands.py`) -> authorize (`authorize.py`) -> before-save
hooks (`before_save.py`) -> append + project (`core/writer.py`, group commit) -> publish (the
writer's publisher, `core/bus.py`) -> after-save hooks (`after_save.py`). `write.py` runs them
in that order. A read: parse the query -> before-find hooks -> plan and run (the projections'
reader, handed in) -> after-find hooks (`find.py`). Hooks are registered in `hooks.py`.
"""
