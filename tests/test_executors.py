"""The Ray executor on a real local Ray instance: the same pixels as a local build, a worker killed
mid-batch is restarted and its batch retried, and a cluster without the resources asked for says so."""
from __future__ import annotations

import os
import signal

import pytest

from reverie.atlas import LocalExecutor, RayExecutor, build_atlas, make_executor
from reverie.errors import ReverieError

from .atlas.conftest import small, tiny_features

import ray  # noqa: E402 - reverie[all-test] has Ray: missing, these fail rather than skip


def pngs(folder) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.png"))}


@pytest.fixture(scope="module")
def ray_instance():
    """A real two-CPU Ray instance on the loopback interface, started once for these tests."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a loopback-only instance of this test run
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield
    ray.shutdown()


def test_a_ray_build_gives_the_local_builds_images_even_with_a_worker_killed_mid_batch(ray_instance, tmp_path):
    settings = small(steps=120)  # two batches of four units: one per worker, long enough to be caught running
    # One thread per worker, as the local build here runs (tests/conftest.py): the same arithmetic.
    executor = RayExecutor(cpus_per_worker=1)
    killed, events = [], []

    def kill_once_a_batch_is_under_way(event) -> None:
        events.append(event)
        if not killed and 0 < event.work_done < event.work_total:
            killed.append(ray.get(executor.actors[0].pid.remote()))
            os.kill(killed[0], signal.SIGKILL)

    remote = build_atlas(tmp_path / "ray", settings, model=tiny_features(), executor=executor,
                         progress=kill_once_a_batch_is_under_way)
    assert killed and not remote.stopped and remote.rendered == 8  # the dead worker's batch was retried
    assert events[-1].fraction == 1 and "2 Ray workers" in events[-1].stage  # folded into one progress stream
    local = build_atlas(tmp_path / "local", settings, model=tiny_features())
    assert local.rendered == 8 and pngs(tmp_path / "ray") == pngs(tmp_path / "local")


def test_a_gpu_asked_of_a_cluster_without_one_fails_at_once_and_keeps_the_finished_work(ray_instance, tmp_path):
    build_atlas(tmp_path / "atlas", small(channels=(0,)), model=tiny_features())
    before = pngs(tmp_path / "atlas")
    with pytest.raises(ReverieError, match=r"--device cuda needs a GPU but the Ray cluster has none \(resources: "
                                           r"2 CPU\); use --device cpu"):
        build_atlas(tmp_path / "atlas", small(channels=(0, 1)), model=tiny_features(),
                    executor=RayExecutor(device="cuda"))
    assert pngs(tmp_path / "atlas") == before
    with pytest.raises(ReverieError, match="--workers 3 with 1 CPUs each needs 3 CPUs but the Ray cluster has 2"):
        build_atlas(tmp_path / "atlas", small(channels=(0, 1)), model=tiny_features(),
                    executor=RayExecutor(workers=3, cpus_per_worker=1))


def test_executor_names_and_options_are_checked():
    assert isinstance(make_executor("local"), LocalExecutor)
    with pytest.raises(ReverieError, match="unknown executor 'dask'"):
        make_executor("dask")
    with pytest.raises(ReverieError, match="--workers only mean something with --executor ray"):
        make_executor("local", workers=2)
    with pytest.raises(ReverieError, match="Ray address must be auto, HOST:PORT or ray://HOST:PORT"):
        RayExecutor(address="nowhere")


def test_a_folder_of_photos_dreamed_on_ray_gives_the_local_dreams(ray_instance, tmp_path):
    from reverie import DreamRecipe, DreamSettings
    from reverie.batch import dream_folder

    from .atlas.conftest import write_photos

    write_photos(tmp_path / "photos", count=2, side=32)
    recipe = DreamRecipe(model="live:Sequential", objective="layer(relu3)", settings=DreamSettings(steps=2, octaves=1))
    remote = dream_folder(tmp_path / "photos", tmp_path / "ray", recipe, model=tiny_features(),
                          executor=RayExecutor(workers=1, cpus_per_worker=1))
    dream_folder(tmp_path / "photos", tmp_path / "local", recipe, model=tiny_features())
    assert len(remote.dreamed) == 2 and pngs(tmp_path / "ray") == pngs(tmp_path / "local")
