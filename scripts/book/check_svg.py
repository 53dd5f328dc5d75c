"""Each SVG given is well formed, has a size, and draws something."""

import sys
import xml.etree.ElementTree as ET

SHAPES = {"path", "polygon", "polyline", "rect", "ellipse", "circle", "line", "text"}

failed = False
for name in sys.argv[1:]:
    try:
        root = ET.parse(name).getroot()
    except ET.ParseError as e:
        print(f"check_svg: {name}: {e}", file=sys.stderr)
        failed = True
        continue
    tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
    sized = root.get("viewBox") or (root.get("width") and root.get("height"))
    if not root.tag.endswith("svg") or not sized or not tags & SHAPES:
        print(f"check_svg: {name}: not an SVG with a size and shapes", file=sys.stderr)
        failed = True
sys.exit(1 if failed else 0)
