"""A test app whose trainer needs a package the runtime image does not have."""
import clarafl_no_such_package  # noqa: F401  pylint: disable=import-error,unused-import
