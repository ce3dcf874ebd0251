"""Classify images with a scalesearch ``model.onnx`` using only onnxruntime, numpy and Pillow
(no scalesearch, no torch): ``python predict_plain.py model/model.onnx a.png b.png ...``.
The preprocessing travels in the ONNX file's metadata. Run by tests/results/test_predict.py."""
import json
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
pre = json.loads(session.get_modelmeta().custom_metadata_map["scalesearch.preprocess"])
size = pre["input_size"]
for path in sys.argv[2:]:
    img = Image.open(path).convert("L" if pre["in_chans"] == 1 else "RGB")
    scale = size / min(img.size)  # the shorter side to `size`, then the centre square
    img = img.resize([max(size, round(side * scale)) for side in img.size], Image.BILINEAR)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    img = img.crop((left, top, left + size, top + size))
    x = np.asarray(img, np.float32).reshape(size, size, -1) / 255
    x = ((x - np.float32(pre["mean"])) / np.float32(pre["std"])).transpose(2, 0, 1)[None]
    logits = session.run(None, {session.get_inputs()[0].name: x})[0][0]
    print(path, pre["class_names"][int(logits.argmax())])
