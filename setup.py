"""Packaging for TensorCap (`pip install .`, or `pip install -e .` to develop)."""

import setuptools

setuptools.setup(
    name="tb-tensorcap",
    version="0.1.0",
    description="Capture named tensors from eager TensorFlow and browse them in TensorBoard",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=["tb_tensorcap", "tb_tensorcap.frontend"],
    package_dir={"tb_tensorcap.frontend": "frontend"},
    package_data={"tb_tensorcap": ["http_api.md"], "tb_tensorcap.frontend": ["*.js", "*.css", "views/*.js"]},
    # Capturing needs TensorFlow, but any distribution of it (tensorflow,
    # tensorflow-cpu, tf-nightly, ...): it is not pinned here, so installing
    # TensorCap never swaps a user's GPU build for another. Reading and the
    # plugin need only these.
    install_requires=["tensorboard>=2.12", "numpy", "protobuf", "ml_dtypes", "crc32c"],
    extras_require={"test": ["tensorflow-cpu", "pytest", "playwright", "hypothesis",
                             # issue 16: JAX's CPU build (demo, array protocols), pandas
                             # (stats_frame), a real S3 server on loopback (moto) and boto3
                             # (TensorBoard's own s3:// support)
                             "jax", "pandas", "moto[server]", "boto3"]},
    entry_points={
        "tensorboard_plugins": ["tensorcap = tb_tensorcap.plugin:TensorCapLoader"],
        "console_scripts": ["tensorcap = tb_tensorcap.cli:main"],
    },
)
