"""Offscreen rendering of episodes to MP4, with the planner's best imagined tool path drawn in.

On a machine without a display, :mod:`sim` selects MuJoCo's EGL backend before MuJoCo is imported.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

__all__ = ["EpisodeVideo", "write_mp4"]

_PATH_RGBA = np.array([0.1, 0.9, 0.3, 0.9], dtype=np.float32)


_STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


class EpisodeVideo:
    """Records an episode's states as it runs and renders them at :meth:`save` into an H.264 MP4
    (imageio-ffmpeg).

    ``add(data, path)`` keeps the current state with ``path [K, 3]`` (world frame), drawn later as a chain
    of small spheres joined by capsules. Keeping a state costs microseconds; rendering one (in software,
    on many threads) costs milliseconds, so nothing is rendered while a timed control loop runs.
    """

    def __init__(
        self, model: mujoco.MjModel, *, width: int = 640, height: int = 480, fps: float = 25.0
    ) -> None:
        self.model = model
        self.size = (height, width)
        self.camera = mujoco.MjvCamera()
        self.camera.lookat[:] = [0.45, 0.0, 0.15]
        self.camera.distance, self.camera.azimuth, self.camera.elevation = 1.3, 150.0, -25.0
        self.fps = fps
        self.states: list[tuple[np.ndarray, np.ndarray | None]] = []

    def add(self, data: mujoco.MjData, path: np.ndarray | None = None) -> None:
        state = np.empty(mujoco.mj_stateSize(self.model, _STATE))
        mujoco.mj_getState(self.model, data, state, _STATE)
        kept = None if path is None else np.array(path, dtype=np.float64)
        self.states.append((state, kept))

    def frames(self) -> list[np.ndarray]:
        """Every kept state rendered: ``[H, W, 3]`` uint8 each."""
        data = mujoco.MjData(self.model)
        out = []
        renderer = mujoco.Renderer(self.model, height=self.size[0], width=self.size[1])
        try:
            for state, path in self.states:
                mujoco.mj_setState(self.model, data, state, _STATE)
                mujoco.mj_forward(self.model, data)
                renderer.update_scene(data, camera=self.camera)
                if path is not None and np.all(np.isfinite(path)):
                    _draw_path(renderer.scene, path)
                out.append(renderer.render().copy())
        finally:
            renderer.close()
        return out

    def save(self, path: str | Path) -> Path:
        return write_mp4(self.frames(), path, fps=self.fps)


def _draw_path(scene: mujoco.MjvScene, path: np.ndarray) -> None:
    """``path [K, 3]`` into ``scene`` as small spheres joined by capsules, while it has room."""
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
