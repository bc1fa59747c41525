"""The planar H2 jet's mesh: a structured block of hexahedra one cell thick, written as a gmsh 2.2 ASCII file.

Code_Saturne is a 3-D code; a 2-D case is one layer of cells between two symmetry planes. The domain is
x in [0, length] (streamwise), y in [-half_width, half_width], z in [0, one cell]; the fuel slot is
|y| < slot_half_width on the inlet plane x = 0. Boundary faces carry gmsh physical groups (numbers and
names in PHYSICAL_TAGS; Code_Saturne 6.0 names its groups by the numbers, which the case's boundary conditions
select): ``fuel_inlet``, ``air_inlet``, ``outlet``, ``side`` (y = ±half_width) and ``symmetry`` (the z planes).
The fuel slot's edges fall on cell faces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from surrogate.atomic import atomic_path

# gmsh physical numbers; Code_Saturne 6.0 names the groups by these numbers (SRC/cs_user_boundary_conditions.c)
PHYSICAL_TAGS = {"fluid": 1, "fuel_inlet": 2, "air_inlet": 3, "outlet": 4, "side": 5, "symmetry": 6}
FLUID = "fluid"


@dataclass(frozen=True)
class JetGeometry:
    """Sizes in metres and cell counts of the planar jet (defaults: 60 x 72 = 4320 cells of 0.5 x 0.33 mm)."""

    length: float = 0.03
    half_width: float = 0.012
    slot_half_width: float = 0.001
    nx: int = 60
    ny: int = 72

    def y_nodes(self) -> np.ndarray:
        """ny + 1 node positions, uniform, with the slot edges ±slot_half_width on nodes."""
        cells_per_slot = self.ny * self.slot_half_width / self.half_width
        if self.ny % 2 or abs(cells_per_slot - round(cells_per_slot)) > 1e-9 or round(cells_per_slot) < 1:
            raise ValueError(f"ny={self.ny} must be even and put slot_half_width={self.slot_half_width} "
                             f"on a node of the uniform grid over ±{self.half_width}")
        return np.linspace(-self.half_width, self.half_width, self.ny + 1)


def write_mesh(path: Path, geometry: JetGeometry = JetGeometry()) -> Path:
    """Write the jet's mesh to PATH (gmsh 2.2 ASCII) and return PATH."""
    x = np.linspace(0.0, geometry.length, geometry.nx + 1)
    y = geometry.y_nodes()
    z = np.array([0.0, geometry.length / geometry.nx])
    nx, ny = geometry.nx, geometry.ny

    def node(i: int, j: int, k: int) -> int:  # 1-based gmsh node number
        return 1 + i + (nx + 1) * (j + (ny + 1) * k)

    tags = PHYSICAL_TAGS
    elements: list[tuple[int, int, tuple[int, ...]]] = []  # (gmsh type, physical tag, nodes)
    for j in range(ny):
        for i in range(nx):
            elements.append((5, tags[FLUID], (node(i, j, 0), node(i + 1, j, 0), node(i + 1, j + 1, 0),
                                              node(i, j + 1, 0), node(i, j, 1), node(i + 1, j, 1),
                                              node(i + 1, j + 1, 1), node(i, j + 1, 1))))
    for j in range(ny):
        y_mid = 0.5 * (y[j] + y[j + 1])
        inlet = "fuel_inlet" if abs(y_mid) < geometry.slot_half_width else "air_inlet"
        elements.append((3, tags[inlet], (node(0, j, 0), node(0, j, 1), node(0, j + 1, 1), node(0, j + 1, 0))))
        elements.append((3, tags["outlet"], (node(nx, j, 0), node(nx, j + 1, 0), node(nx, j + 1, 1),
                                             node(nx, j, 1))))
    for i in range(nx):
        elements.append((3, tags["side"], (node(i, 0, 0), node(i, 0, 1), node(i + 1, 0, 1), node(i + 1, 0, 0))))
        elements.append((3, tags["side"], (node(i, ny, 0), node(i + 1, ny, 0), node(i + 1, ny, 1),
                                           node(i, ny, 1))))
    for j in range(ny):
        for i in range(nx):
            for k in (0, 1):
                quad = (node(i, j, k), node(i + 1, j, k), node(i + 1, j + 1, k), node(i, j + 1, k))
                elements.append((3, tags["symmetry"], quad if k else quad[::-1]))

    lines = ["$MeshFormat", "2.2 0 8", "$EndMeshFormat", "$PhysicalNames", str(len(tags))]
    lines += [f"{3 if name == FLUID else 2} {number} \"{name}\"" for name, number in tags.items()]
    lines += ["$EndPhysicalNames", "$Nodes", str((nx + 1) * (ny + 1) * 2)]
    for k in range(2):
        for j in range(ny + 1):
            for i in range(nx + 1):
                lines.append(f"{node(i, j, k)} {x[i]:.12g} {y[j]:.12g} {z[k]:.12g}")
    lines += ["$EndNodes", "$Elements", str(len(elements))]
    lines += [f"{n} {kind} 2 {tag} {tag} {' '.join(map(str, nodes))}"
              for n, (kind, tag, nodes) in enumerate(elements, start=1)]
    lines.append("$EndElements")
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return path
