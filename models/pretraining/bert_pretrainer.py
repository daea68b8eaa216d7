"""BERT pre-training task: a backbone plus masked-LM and next-sentence heads, with its losses.

Composition in the keras-hub style: the task takes a backbone and adds two small heads. The MLM
head is tied to the backbone's token embedding and computes logits only at the masked positions.
`train_step`/`test_step` compute the two losses and the Model Garden metric names:
`lm_example_loss`, `next_sentence_loss`, `masked_lm_accuracy`, `next_sentence_accuracy`,
and `perplexity` (exp of the masked-LM loss); training also reports `gradient_norm`.

Under a tf.distribute strategy each replica's loss is divided by the number of replicas before
its gradients are taken: the replicas' gradients are summed when applied, so the update is that
of the global batch's mean loss, whatever the replica count.
"""

from __future__ import annotations

import keras
import keras_hub
import tensorflow as tf

from models import features
from models.encoder import backbone as backbone_lib
from models.pretraining import distribution


def bert_initializer(stddev: float = 0.02) -> keras.initializers.Initializer:
    """BERT's weight initializer: a truncated normal of standard deviation 0.02."""
    return keras.initializers.TruncatedNormal(stddev=stddev)


class BertPretrainer(keras.Model):
    """Masked-LM + next-sentence prediction over a BertBackbone.

    Args:
        backbone: keras_hub.models.BertBackbone. The encoder being pre-trained.

    Example:
    >>> backbone = backbone_lib.build_backbone(ModelConfig(num_layers=2, hidden_dim=16, num_heads=2,
    ...                                   intermediate_dim=32), vocab_size=50)
    >>> pretrainer = BertPretrainer(backbone)
    """

    def __init__(self, backbone: keras_hub.models.BertBackbone, **kwargs):
        self.backbone = backbone
        self.masked_lm_head = keras_hub.layers.MaskedLMHead(
            token_embedding=backbone.token_embedding,
            intermediate_activation="gelu",
            kernel_initializer=bert_initializer(),
            # float32 whatever the backbone's policy: keras-hub's head disables autocasting and adds
            # its float32 bias to logits in the compute dtype, which TensorFlow refuses under mixed
            # precision. The vocabulary projection still runs in the embedding's compute dtype.
            dtype="float32",
            name="masked_lm_head",
        )
        self.next_sentence_head = keras.layers.Dense(
            2, kernel_initializer=bert_initializer(), dtype=backbone.dtype_policy, name="next_sentence_head"
        )
        # The task computes in the backbone's dtype policy (e.g. mixed_bfloat16), so compile() wraps
        # the optimizer in a LossScaleOptimizer for mixed_float16 without any global policy.
        kwargs.setdefault("dtype", backbone.dtype_policy)
        super().__init__(**kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.lm_loss_tracker = keras.metrics.Mean(name="lm_example_loss")
        self.nsp_loss_tracker = keras.metrics.Mean(name="next_sentence_loss")
        self.lm_accuracy = keras.metrics.SparseCategoricalAccuracy(name="masked_lm_accuracy")
        self.nsp_accuracy = keras.metrics.SparseCategoricalAccuracy(name="next_sentence_accuracy")
        self.gradient_norm_tracker = keras.metrics.Mean(name="gradient_norm")

    def call(self, batch: dict[str, tf.Tensor], training: bool = False) -> dict[str, tf.Tensor]:
        outputs = self.backbone(backbone_lib.backbone_inputs(batch), training=training)
        positions = tf.cast(batch[features.MASKED_LM_POSITIONS], tf.int32)
        return {
            "masked_lm_logits": self.masked_lm_head(outputs["sequence_output"], mask_positions=positions),
            "next_sentence_logits": self.next_sentence_head(outputs["pooled_output"]),
        }

    def _pretraining_losses(
        self, batch: dict[str, tf.Tensor], outputs: dict[str, tf.Tensor]
    ) -> tuple[tf.Tensor, tf.Tensor]:
        lm_logits = tf.cast(outputs["masked_lm_logits"], tf.float32)
        weights = tf.cast(batch[features.MASKED_LM_WEIGHTS], tf.float32)
        per_token = keras.losses.sparse_categorical_crossentropy(
            batch[features.MASKED_LM_IDS], lm_logits, from_logits=True
        )
        lm_loss = tf.reduce_sum(per_token * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
        nsp_logits = tf.cast(outputs["next_sentence_logits"], tf.float32)
        nsp_loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(
                batch[features.NEXT_SENTENCE_LABELS], nsp_logits, from_logits=True
            )
        )
        return lm_loss, nsp_loss

    def _update_metrics(self, batch, outputs, lm_loss, nsp_loss) -> dict[str, tf.Tensor]:
        self.loss_tracker.update_state(lm_loss + nsp_loss)
        self.lm_loss_tracker.update_state(lm_loss)
        self.nsp_loss_tracker.update_state(nsp_loss)
        self.lm_accuracy.update_state(
            batch[features.MASKED_LM_IDS], outputs["masked_lm_logits"], sample_weight=batch[features.MASKED_LM_WEIGHTS]
        )
        self.nsp_accuracy.update_state(batch[features.NEXT_SENTENCE_LABELS], outputs["next_sentence_logits"])
        results = {metric.name: metric.result() for metric in self._pretraining_metrics()}
        results["perplexity"] = tf.exp(self.lm_loss_tracker.result())
        return results

    @staticmethod
    def _for_keras_logs(results: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        # Across workers Keras reduces each log with strategy.reduce("MEAN", value, axis=0), which
        # needs an axis to reduce: give the scalars one (keras 3.15; tests/models/test_distribution.py).
        if distribution.in_multi_worker_mode(tf.distribute.get_strategy()):
            return {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' TF trainer builds a model before fit by reducing one distributed batch with
        # strategy.reduce, which MultiWorkerMirroredStrategy refuses for a dict of inputs. This task
        # has no compiled loss or metrics to build: once its weights exist (call it on a batch, as
        # run_fn does), there is nothing left to build. (keras 3.15; tests/models/test_distribution.py)
        if not self.built:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    @property
    def metrics(self):
        # Listed here so that Keras resets them every logging period.
        return [*self._pretraining_metrics(), self.gradient_norm_tracker]

    def _pretraining_metrics(self):
        return [self.loss_tracker, self.lm_loss_tracker, self.nsp_loss_tracker, self.lm_accuracy, self.nsp_accuracy]

    def train_step(self, data):
        batch, _, _ = keras.utils.unpack_x_y_sample_weight(data)  # features only: the labels are features too
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            outputs = self(batch, training=True)
            lm_loss, nsp_loss = self._pretraining_losses(batch, outputs)
            # Loss scaling for float16 (a no-op otherwise), and the share of this replica.
            scaled_loss = self.optimizer.scale_loss((lm_loss + nsp_loss) / replicas)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        # The norm of the gradient of this replica's mean loss (its share of the batch; the whole batch
        # on one device), loss scaling undone. Not all-reduced: that would double the communication.
        norm = tf.linalg.global_norm(gradients) * replicas / tf.cast(self.optimizer.scale_loss(1.0), tf.float32)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=True))
        self.gradient_norm_tracker.update_state(norm)
        results = self._update_metrics(batch, outputs, lm_loss, nsp_loss)
        results["gradient_norm"] = self.gradient_norm_tracker.result()
        return self._for_keras_logs(results)

    def test_step(self, data):
        batch, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        outputs = self(batch, training=False)
        lm_loss, nsp_loss = self._pretraining_losses(batch, outputs)
        return self._for_keras_logs(self._update_metrics(batch, outputs, lm_loss, nsp_loss))
