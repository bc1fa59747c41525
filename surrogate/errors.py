"""Errors a user can cause. The CLI turns each into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input from the user: a file, field or option that is not what was expected."""


class TableError(UserError):
    """A file that is not a readable thermo-surrogate table, or a column that is not in it."""


class PluginError(UserError):
    """An unknown plugin name or option, or an option value of the wrong type."""


class RunError(UserError):
    """A run directory that is missing, incomplete or from an incompatible version."""
