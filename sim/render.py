"""Offscreen rendering of episodes to MP4, with the planner's best imagined tool path drawn in.

On a machine without a display, :mod:`sim` selects MuJoCo's EGL backend before MuJoCo is imported.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

__all__ = ["EpisodeVideo", "write_mp4"]

_PATH_RGBA = np.array([0.1, 0.9, 0.3, 0.9], dtype=np.float32)


class EpisodeVideo:
    """Collects frames of a scene; :meth:`save` writes an H.264 MP4 through imageio-ffmpeg.

    ``add(data, path)`` renders the current state with ``path [K, 3]`` (world frame) drawn as a chain of
    small spheres joined by capsules.
    """

    def __init__(
        self, model: mujoco.MjModel, *, width: int = 640, height: int = 480, fps: float = 25.0
    ) -> None:
        self.renderer = mujoco.Renderer(model, height=height, width=width)
        self.camera = mujoco.MjvCamera()
        self.camera.lookat[:] = [0.45, 0.0, 0.15]
        self.camera.distance, self.camera.azimuth, self.camera.elevation = 1.3, 150.0, -25.0
        self.fps = fps
        self.frames: list[np.ndarray] = []

    def add(self, data: mujoco.MjData, path: np.ndarray | None = None) -> None:
        self.renderer.update_scene(data, camera=self.camera)
        if path is not None and np.all(np.isfinite(path)):
            self._draw_path(np.asarray(path, dtype=np.float64))
        self.frames.append(self.renderer.render().copy())

    def _draw_path(self, path: np.ndarray) -> None:
        scene = self.renderer.scene
        for i, point in enumerate(path):
            if scene.ngeom >= scene.maxgeom:
                return
            geom = scene.geoms[scene.ngeom]
            mujoco.mjv_initGeom(
                geom, mujoco.mjtGeom.mjGEOM_SPHERE, np.full(3, 0.006), point, np.eye(3).ravel(), _PATH_RGBA
            )
            scene.ngeom += 1
            if i and scene.ngeom < scene.maxgeom:
                link = scene.geoms[scene.ngeom]
                mujoco.mjv_initGeom(
                    link,
                    mujoco.mjtGeom.mjGEOM_CAPSULE,
                    np.zeros(3),
                    np.zeros(3),
                    np.eye(3).ravel(),
                    _PATH_RGBA,
                )
                mujoco.mjv_connector(link, mujoco.mjtGeom.mjGEOM_CAPSULE, 0.002, path[i - 1], point)
                scene.ngeom += 1

    def save(self, path: str | Path) -> Path:
        return write_mp4(self.frames, path, fps=self.fps)

    def close(self) -> None:
        self.renderer.close()


def write_mp4(frames: list[np.ndarray], path: str | Path, *, fps: float) -> Path:
    """``frames`` (each ``[H, W, 3]`` uint8) as an H.264 MP4 at ``path``, through imageio-ffmpeg."""
    import imageio_ffmpeg

    path = Path(path)
    height, width = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(path), (width, height), fps=fps, quality=7)
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return path
