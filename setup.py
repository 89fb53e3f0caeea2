"""kdtfrs: knowledge distillation for top-K recommender systems on TensorFlow."""

import pathlib

from setuptools import find_packages, setup

README = pathlib.Path(__file__).with_name("README.md")

setup(
    name="kdtfrs",
    version="0.1.0",
    description="Knowledge distillation for top-K recommender systems on TensorFlow, "
    "Keras, TFRS and TFX.",
    long_description=README.read_text() if README.exists() else "",
    long_description_content_type="text/markdown",
    # pipelines/ and components/: the TFX pipeline (imports tfx; the [pipeline] extra).
    packages=find_packages(include=["kdtfrs", "kdtfrs.*", "pipelines", "pipelines.*",
                                    "components", "components.*"]),
    package_data={"pipelines": ["schema/*.pbtxt"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "tf-keras>=2.16,<2.22",
        "tensorflow-recommenders==0.7.7",
        "numpy>=1.26",
        "pyyaml>=6",
        "tqdm>=4.60",
    ],
    extras_require={
        # tfx 1.16 declares Python < 3.11 but its cp311 wheels run: install with uv (which
        # ignores Requires-Python upper bounds) or pip --ignore-requires-python. See
        # docs/install.md; constraints.txt pins the measured stack.
        "pipeline": [
            "tfx[kfp]>=1.16,<1.22",
            "tensorflow-data-validation>=1.16,<1.22",
            "apache-beam[gcp]>=2.59",
        ],
        "dev": ["pytest>=8", "pytest-xdist>=3"],
        # kdtfrs.serving's warmup requests (PredictionLog protos); tfx brings it too.
        "serving": ["tensorflow-serving-api>=2.16,<2.22"],
    },
    entry_points={"console_scripts": ["kdtfrs=kdtfrs.cli:main"]},
)
