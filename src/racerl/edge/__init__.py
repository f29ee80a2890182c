"""Export for the car and the torch-free car runtime (ONNX/OpenVINO, frame sources).
"""
