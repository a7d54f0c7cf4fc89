"""A small z-buffer triangle rasterizer in torch: cameras on an orbit, per-pixel face index and barycentrics."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# Elements per rasterization chunk (faces x padded bounding-box pixels): bounds the memory of one
# chunk (~10 tensors of this many floats, ~160 MB) whatever the mesh and image size.
CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Cameras:
    """N perspective cameras on an orbit around the origin, looking at it with +y up.

    ``azimuth`` and ``elevation`` [N] in radians (azimuth 0, elevation 0 looks from +z towards
    -z), ``distance`` [N] from the origin in units of the mesh's bounding-sphere radius, and
    ``focal`` [N]: the focal length in units of half the image side (1 / tan(half field of view)).
    """

    azimuth: torch.Tensor
    elevation: torch.Tensor
    distance: torch.Tensor
    focal: torch.Tensor

    def __len__(self) -> int:
        return self.azimuth.shape[0]


def fitting_focal(distance: float, margin: float = 1.1) -> float:
    """The focal length at which a unit sphere seen from ``distance`` fills the image, with ``margin``."""
    return 1.0 / (math.tan(math.asin(1.0 / distance)) * margin)


def orbit(azimuth, elevation, distance=2.5, focal: float | None = None) -> Cameras:
    """Cameras from sequences (or scalars) of angles in radians; ``focal`` defaults to fitting at 2.5."""
    azimuth = torch.as_tensor(azimuth, dtype=torch.float32).reshape(-1)
    count = azimuth.shape[0]
    full = lambda value: torch.as_tensor(value, dtype=torch.float32).reshape(-1).expand(count).clone()  # noqa: E731
    return Cameras(azimuth, full(elevation), full(distance), full(fitting_focal(2.5) if focal is None else focal))


def random_cameras(count: int, generator: torch.Generator, distance: tuple[float, float] = (2.0, 3.2),
                   elevation: float = 45.0) -> Cameras:
    """``count`` cameras at uniformly random azimuths, elevations within +-``elevation`` degrees
    (uniform on the sphere's band, so the poles are not oversampled) and distances in ``distance``;
    the field of view fits the unit sphere at distance 2.5, so near cameras see part of the mesh."""
    azimuth = torch.rand(count, generator=generator) * 2 * math.pi
    band = math.sin(math.radians(elevation))
    elevation_ = torch.asin((torch.rand(count, generator=generator) * 2 - 1) * band)
    low, high = distance
    distance_ = low + torch.rand(count, generator=generator) * (high - low)
    return Cameras(azimuth, elevation_, distance_, torch.full((count,), fitting_focal(2.5)))


def project(vertices: torch.Tensor, cameras: Cameras, height: int, width: int) -> torch.Tensor:
    """Vertices [V, 3] -> screen positions [N, V, 3]: x and y in pixels (pixel i spans [i, i+1],
    y down), and the camera-space depth z (positive in front of the camera)."""
    az, el = cameras.azimuth.to(vertices)[:, None], cameras.elevation.to(vertices)[:, None]  # [N, 1]
    eye = cameras.distance.to(vertices)[:, None] * torch.cat(
        [el.cos() * az.sin(), el.sin(), el.cos() * az.cos()], dim=1)  # [N, 3]
    forward = -eye / eye.norm(dim=1, keepdim=True)  # towards the origin
    up = torch.tensor([0.0, 1.0, 0.0]).to(vertices).expand_as(forward)
    right = torch.linalg.cross(forward, up)
    right = right / right.norm(dim=1, keepdim=True).clamp(min=1e-8)
    true_up = torch.linalg.cross(right, forward)
    relative = vertices[None] - eye[:, None]  # [N, V, 3]
    x = (relative * right[:, None]).sum(-1)  # [N, V]
    y = (relative * true_up[:, None]).sum(-1)
    z = (relative * forward[:, None]).sum(-1).clamp(min=1e-4)
    focal = cameras.focal.to(vertices)[:, None]
    side = min(height, width) / 2  # square pixels: the focal length is in units of half the shorter side
    screen_x = width / 2 + focal * x / z * side
    screen_y = height / 2 - focal * y / z * side
    return torch.stack([screen_x, screen_y, z], dim=-1)


def _edge(ax, ay, bx, by, px, py):
    """Twice the signed area of triangle (a, b, p): positive when p is left of a -> b (y down)."""
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def rasterize(screen: torch.Tensor, faces: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The nearest face at each pixel centre, and its perspective-correct barycentric coordinates.

    ``screen`` [N, V, 3] from :func:`project`; ``faces`` [F, 3]. Returns ``face_index`` [N, H, W]
    int64 (-1 where no face covers the pixel) and ``barycentric`` [N, H, W, 3] (zeros there). No
    face is culled by its winding, so open meshes show both sides; the depth test picks the nearer.
    Not differentiable (it only depends on the geometry).

    Each face is tested only on the pixels of its bounding box: faces are sorted by box size and
    grouped by box shape and processed in chunks padded to the group's largest box, so the work is
    about the faces' total box area, not faces x pixels.
    """
    count = screen.shape[0]
    with torch.no_grad():
        corners = screen[:, faces]  # [N, V, 3] -> [N, F, 3 corners, 3 coords]
        corners = corners.reshape(-1, 3, 3)  # [N*F, 3, 3]; face id = view * F + face
        xs, ys = corners[..., 0], corners[..., 1]  # [N*F, 3]
        area = _edge(xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1], xs[:, 2], ys[:, 2])
        # Pixel centres are at i + 0.5: the first and last pixel whose centre can be inside the box.
        x0 = torch.ceil(xs.min(1).values - 0.5).clamp(0, width).long()
        x1 = torch.floor(xs.max(1).values - 0.5).clamp(-1, width - 1).long()
        y0 = torch.ceil(ys.min(1).values - 0.5).clamp(0, height).long()
        y1 = torch.floor(ys.max(1).values - 0.5).clamp(-1, height - 1).long()
        box_w, box_h = (x1 - x0 + 1).clamp(min=0), (y1 - y0 + 1).clamp(min=0)
        live = (area.abs() > 1e-12) & (box_w > 0) & (box_h > 0)
        ids = torch.nonzero(live).squeeze(1)
        # Faces with boxes of similar shape (same power-of-two width and height class) are padded
        # to a common box together, so the padding at most doubles each side.
        shape_class = _log2_class(box_w[ids]) * 64 + _log2_class(box_h[ids])
        chunks = []
        for group in torch.unique(shape_class):
            members = ids[shape_class == group]
            size = int(box_w[members].max()) * int(box_h[members].max())
            step = max(1, CHUNK_ELEMENTS // size)
            chunks.extend(members[i:i + step] for i in range(0, members.numel(), step))

        pixels, depths, owners = [], [], []
        for chunk in chunks:
            bw, bh = int(box_w[chunk].max()), int(box_h[chunk].max())
            ox = torch.arange(bw, device=screen.device)[None, None, :]  # [1, 1, bw]
            oy = torch.arange(bh, device=screen.device)[None, :, None]  # [1, bh, 1]
            px = x0[chunk][:, None, None] + ox  # [C, 1, bw]
            py = y0[chunk][:, None, None] + oy  # [C, bh, 1]
            in_box = (ox < box_w[chunk][:, None, None]) & (oy < box_h[chunk][:, None, None])  # [C, bh, bw]
            cx, cy = xs[chunk][:, :, None, None], ys[chunk][:, :, None, None]  # [C, 3, 1, 1]
            fx, fy = px.float() + 0.5, py.float() + 0.5
            a = area[chunk][:, None, None]
            w0 = _edge(cx[:, 1], cy[:, 1], cx[:, 2], cy[:, 2], fx, fy) / a  # [C, bh, bw]
            w1 = _edge(cx[:, 2], cy[:, 2], cx[:, 0], cy[:, 0], fx, fy) / a
            w2 = 1 - w0 - w1
            inside = in_box & (w0 >= -1e-6) & (w1 >= -1e-6) & (w2 >= -1e-6)
            z = corners[chunk][:, :, 2][:, :, None, None]  # [C, 3, 1, 1]
            inverse_depth = w0 / z[:, 0] + w1 / z[:, 1] + w2 / z[:, 2]  # linear in screen space
            view = torch.div(chunk, faces.shape[0], rounding_mode="floor")[:, None, None]
            flat = (view * height + py) * width + px  # [C, bh, bw] index into [N*H*W]
            hits = torch.nonzero(inside.reshape(-1)).squeeze(1)  # one mask-to-index pass, three gathers
            pixels.append(flat.reshape(-1)[hits])
            depths.append(inverse_depth.reshape(-1)[hits])
            owners.append(chunk[torch.div(hits, bh * bw, rounding_mode="floor")])

        total = count * height * width
        face_index = torch.full((total,), -1, dtype=torch.int64, device=screen.device)
        barycentric = screen.new_zeros(total, 3)
        if pixels:
            pixel, depth, owner = torch.cat(pixels), torch.cat(depths), torch.cat(owners)
            nearest = screen.new_full((total,), -math.inf).scatter_reduce(0, pixel, depth, "amax")
            win = depth >= nearest[pixel]  # ties (shared edges): the larger face id wins below
            face_index.scatter_reduce_(0, pixel[win], owner[win], "amax")
            covered = torch.nonzero(face_index >= 0).squeeze(1)
            barycentric[covered] = _barycentric(corners[face_index[covered]], covered, height, width)
            face_index[covered] = face_index[covered] % faces.shape[0]
    # [N*H*W] -> [N, H, W]
    return face_index.reshape(count, height, width), barycentric.reshape(count, height, width, 3)


def _log2_class(sides: torch.Tensor) -> torch.Tensor:
    """ceil(log2(side)) for positive integer sides: 1 -> 0, 2 -> 1, 3-4 -> 2, 5-8 -> 3, ..."""
    return torch.ceil(torch.log2(sides.float())).long()


def _barycentric(corners: torch.Tensor, flat: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Perspective-correct barycentrics [P, 3] of pixel centres ``flat`` [P] in triangles ``corners`` [P, 3, 3]."""
    fx = (flat % width).float() + 0.5
    fy = (torch.div(flat, width, rounding_mode="floor") % height).float() + 0.5
    xs, ys, z = corners[..., 0], corners[..., 1], corners[..., 2]
    area = _edge(xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1], xs[:, 2], ys[:, 2])
    w0 = _edge(xs[:, 1], ys[:, 1], xs[:, 2], ys[:, 2], fx, fy) / area
    w1 = _edge(xs[:, 2], ys[:, 2], xs[:, 0], ys[:, 0], fx, fy) / area
    screen = torch.stack([w0, w1, 1 - w0 - w1], dim=1).clamp(0, 1)  # [P, 3]
    weights = screen / z  # screen-space weights -> perspective-correct: divide by depth, renormalise
    return weights / weights.sum(1, keepdim=True)
