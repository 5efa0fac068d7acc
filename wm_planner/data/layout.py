"""Named, ordered layouts of flat observation and action vectors."""

from __future__ import annotations

from pydantic import Field, model_validator

from wm_planner.config import StrictModel

__all__ = ["Layout", "LayoutField"]


class LayoutField(StrictModel):
    name: str = Field(min_length=1)
    size: int = Field(gt=0)
    unit: str = ""


class Layout(StrictModel):
    """An ordered list of named blocks making up a flat vector, e.g. ``joint_pos[7] joint_vel[7] ...``."""

    fields: tuple[LayoutField, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Layout:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"layout has duplicate field names: {names}")
        return self

    @classmethod
    def of(cls, *blocks: tuple[str, int, str]) -> Layout:
        """Build from ``(name, size, unit)`` triples."""
        return cls(fields=tuple(LayoutField(name=n, size=s, unit=u) for n, s, u in blocks))

    @property
    def size(self) -> int:
        return sum(f.size for f in self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def slice(self, name: str) -> slice:
        """Where block ``name`` lives in the flat vector."""
        start = 0
        for f in self.fields:
            if f.name == name:
                return slice(start, start + f.size)
            start += f.size
        raise KeyError(f"layout has no field {name!r}; fields are {list(self.names)}")

    def describe(self) -> str:
        return " ".join(f"{f.name}[{f.size}]" for f in self.fields)
