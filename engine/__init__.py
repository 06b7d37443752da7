"""MPM engine: masked pose modelling for 2D-to-3D lifting and pose completion.

bpy-free. Torch is needed only for training and the PyTorch backend; the ONNX Runtime
backend needs numpy and onnxruntime alone.
"""
__version__ = "0.1.0"
