"""Runs Google's original `create_pretraining_data.py` (TensorFlow 1 API) under TensorFlow 2, unchanged.

The script and its `tokenization.py` are not part of this project; get them with
`git clone https://github.com/google-research/bert` and pass the folder:

    .venv/bin/python bench/original_bert_script.py /path/to/bert --input_file=... --output_file=... --vocab_file=...

The only adaptation is that `import tensorflow` inside the script resolves to `tensorflow.compat.v1`,
which still has every name it uses (`tf.flags`, `tf.gfile`, `tf.logging`, `tf.python_io`, `tf.app.run`).
`bench/data_prep.py --original-dir` runs it beside our data part.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main() -> None:
    script_dir = Path(sys.argv[1]).resolve()
    script = script_dir / "create_pretraining_data.py"
    if not script.is_file():
        raise SystemExit(f"{script} not found: pass the folder of a clone of github.com/google-research/bert")
    import tensorflow.compat.v1 as tf_v1

    sys.modules["tensorflow"] = tf_v1
    sys.path.insert(0, str(script_dir))
    sys.argv = [str(script), *sys.argv[2:]]
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
