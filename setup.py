"""Installable package for the BERT pre-training TFX pipeline.

The ML stack is pinned here (direct dependencies) and in constraints.txt (the full resolved set),
so a fresh `make setup` resolves the same versions every time.
"""

from setuptools import find_packages, setup

ML_STACK = [
    "tfx==1.21.0",
    "tensorflow==2.21.0",
    "tensorflow-text==2.21.1",
    "tensorflow-transform==1.21.0",
    "tensorflow-model-analysis==0.52.0",
    "ml-metadata==1.21.0",
    "apache-beam==2.77.0",
    "keras==3.15.1",
    "keras-hub==0.32.0",
    # Rust WordPiece trainer used by the Transform vocabulary analyzer: 150x faster than
    # tensorflow_text's pure-Python learner on our corpus sample (docs/benchmarks.md).
    "tokenizers==0.23.3",
    # TF 2.21 no longer pulls TensorBoard in; tf.summary (Keras' TensorBoard callback) needs it.
    "tensorboard==2.21.0",
    # Compiles the DAG for Kubeflow Pipelines; 2.14-2.16 are the releases that accept protobuf 6.
    "kfp==2.16.0",
    # Draws the run report's training curves and GLUE chart as PNG files.
    "matplotlib==3.11.2",
    # Writes the encoder's weights in Hugging Face's format (model.safetensors, what transformers loads first).
    "safetensors==0.8.0",
]

setup(
    name="bert-tfx",
    version="0.1.0",
    description="A TFX pipeline that pre-trains BERT from scratch in TensorFlow 2 and proves it on GLUE.",
    # 3.11 is what `make setup` installs (constraints.txt); 3.13 is what the Kubeflow image runs
    # (Debian 13, kubeflow/constraints-py313.txt). tfx 1.21 allows up to 3.13.
    python_requires=">=3.11,<3.14",
    packages=find_packages(
        include=[
            "configs",
            "configs.*",
            "inspection",
            "inspection.*",
            "pipeline",
            "pipeline.*",
            "components",
            "components.*",
            "models",
            "models.*",
        ]
    ),
    # Kubeflow steps import custom artifact types by their names (`bert_tfx.RunReport`): see bert_tfx.py.
    py_modules=["bert_tfx"],
    install_requires=ML_STACK,
    extras_require={
        # playwright drives Debian's Chromium (no browser download) in the run report's browser test.
        "dev": ["pytest==9.2.0", "ruff==0.17.5", "playwright==1.65.2"],
        # The libraries that load the exported model, for the tests that prove it loads there (`make test`
        # installs it; the CPU build of PyTorch, see scripts/setup_env.sh). Never needed to run the pipeline.
        "interop": ["torch==2.13.0", "transformers==5.25.0", "accelerate==1.16.0"],
    },
    entry_points={"console_scripts": ["bert-tfx=pipeline.cli:main"]},
)
