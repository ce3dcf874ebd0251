"""The training-grid benchmark: its table (a header, one row per model and grid point, mean ± SE
over seeds, paired difference from the first row) and the photo-digits folder it can build."""

from __future__ import annotations

from tests.benchmark_helpers import load_benchmark


def test_summary_rows_per_model_and_grid_point_in_order():
    bench = load_benchmark("train_grid")
    rows = [{"model": "resnet w=0.03125 d=0.5", "lr": lr, "epochs": epochs, "augment": 0.4, "seed": s,
             "params": 5470, "test": t}
            for lr, epochs, tests in ((8e-3, 40, (0.98, 0.99)), (8e-3, 20, (0.97, 0.98)), (1e-3, 20, (0.70, 0.72)))
            for s, t in enumerate(tests)]
    assert bench.summary(rows)[2:] == [
        "| resnet w=0.03125 d=0.5 | 5.5K | 0.001 | 20 | 0.4 | 0.7100 ± 0.0100 |  |",
        "| resnet w=0.03125 d=0.5 | 5.5K | 0.008 | 20 | 0.4 | 0.9750 ± 0.0050 | 0.2650 ± 0.0050 |",
        "| resnet w=0.03125 d=0.5 | 5.5K | 0.008 | 40 | 0.4 | 0.9850 ± 0.0050 | 0.2750 ± 0.0050 |"]


def test_photo_digits_are_an_rgb_image_folder_of_the_ten_digits(tmp_path):
    from PIL import Image

    bench = load_benchmark("train_grid")
    assert bench.make_photo_digits(tmp_path) == 1797
    assert sorted(p.name for p in tmp_path.iterdir()) == [str(d) for d in range(10)]
    images = sorted(tmp_path.glob("*/*.png"))
    assert len(images) == 1797
    first = Image.open(images[0])
    assert first.mode == "RGB" and first.size == (bench.PHOTO_DIGIT_SIZE, bench.PHOTO_DIGIT_SIZE)
    # a digit is drawn over a photo, not a blank background: images of one class differ
    assert Image.open(images[0]).tobytes() != Image.open(images[1]).tobytes()
