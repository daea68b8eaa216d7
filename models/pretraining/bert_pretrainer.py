"""BERT pre-training task: a backbone plus masked-LM and next-sentence heads, its losses and its training step.

Composition in the keras-hub style: the task takes a backbone and adds two small heads (the masked-LM head only
for an objective without the next-sentence task, `next_sentence=False`: RoBERTa's). The MLM head is tied
to the backbone's token embedding and computes logits only at the masked positions. `train_step`/`test_step`
compute the two losses and the Model Garden metric names: `lm_example_loss`, `next_sentence_loss`,
`masked_lm_accuracy`, `next_sentence_accuracy`, and `perplexity` (exp of the masked-LM loss); training also
reports `gradient_norm` (of the step's whole gradient, before clipping).

One call of `train_step` is one optimizer step over one step batch, whatever the devices and accumulation:
- the step batch (`trainer.batch_size * gradient_accumulation_steps` examples over all replicas) is split
  over the replicas by tf.distribute, and each replica's part into `gradient_accumulation_steps`
  micro-batches, whose gradients a `tf.while_loop` adds up (one micro-batch's activations at a time);
- the loss is the step batch's: the masked-LM loss is the sum of the weighted per-token losses over every
  replica and micro-batch divided by the step batch's total weight (summed over the replicas first), the
  next-sentence loss the sum over the step's examples divided by their number; so parts with more or fewer
  masked tokens weigh what they hold, as on one device;
- the gradients are summed over the replicas here, then clipped by their global norm and applied once by an
  optimizer that does not sum them again (`models.training.optimization.create_optimizer(summed_gradients=
  True)`); with float16 the loss scale is checked on that sum, so every replica skips or applies together;
- dropout is keyed (`keyed_dropout`): each example's masks are a hash of `dropout_seed`, `batches_seen` (the
  step batches read before this one, a variable saved with the model) and the example's row in the step batch
  (`ROW_IN_STEP`, which the Trainer's input adds to every step batch).
So a checkpoint can only be taken between steps, never inside an accumulation window, and it holds everything
a resumed run needs to continue as the uninterrupted one would: weights, optimizer state (step, moments, loss
scale) and `batches_seen` (which is also the input position: step batches read, skipped float16 steps
included).
"""

from __future__ import annotations

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from models import features
from models.encoder import backbone as backbone_lib
from models.pretraining import distribution, keyed_dropout
from models.pretraining_data import keyed_random
from models.training.optimization import SummedGradients

# A feature the Trainer's input adds to every step batch: each example's row in it (0 .. step batch size - 1).
ROW_IN_STEP = "row_in_step"


def bert_initializer(stddev: float = 0.02) -> keras.initializers.Initializer:
    """BERT's weight initializer: a truncated normal of standard deviation 0.02."""
    return keras.initializers.TruncatedNormal(stddev=stddev)


def gelu_tanh(x):
    """GELU by its tanh approximation: what BertBackbone's feed-forward layers and the original BERT use."""
    return keras.activations.gelu(x, approximate=True)


class BertPretrainer(keras.Model):
    """Masked-LM (+ next-sentence prediction) over a BertBackbone.

    Args:
        backbone: keras_hub.models.BertBackbone. The encoder being pre-trained; its dropout layers become keyed.
        gradient_accumulation_steps: int. Micro-batches each replica splits its part of a step batch into.
            Defaults to 1.
        dropout_seed: int. Seeds the keyed dropout masks. Defaults to 0.
        next_sentence: bool. Whether to train the next-sentence task (head, loss and accuracy); without it the
            batches need no `next_sentence_labels`. Defaults to True.

    Example:
    >>> backbone = backbone_lib.build_backbone(ModelConfig(num_layers=2, hidden_dim=16, num_heads=2,
    ...                                   intermediate_dim=32), vocab_size=50)
    >>> pretrainer = BertPretrainer(backbone, gradient_accumulation_steps=2)
    """

    def __init__(
        self,
        backbone: keras_hub.models.BertBackbone,
        gradient_accumulation_steps: int = 1,
        dropout_seed: int = 0,
        next_sentence: bool = True,
        **kwargs,
    ):
        if gradient_accumulation_steps < 1:
            raise ValueError(f"gradient_accumulation_steps={gradient_accumulation_steps} must be 1 or more")
        self.backbone = backbone
        keyed_dropout.use_keyed_dropout(backbone)
        # BERT's head: the encoder's GELU (tanh approximation) and layer-norm epsilon, as the original BERT and
        # Hugging Face's BertForPreTraining compute it, so the exported heads give the same logits there.
        self.masked_lm_head = keras_hub.layers.MaskedLMHead(
            token_embedding=backbone.token_embedding,
            intermediate_activation=gelu_tanh,
            layer_norm_epsilon=backbone_lib.LAYER_NORM_EPSILON,
            kernel_initializer=bert_initializer(),
            # float32 whatever the backbone's policy: keras-hub's head disables autocasting and adds
            # its float32 bias to logits in the compute dtype, which TensorFlow refuses under mixed
            # precision. The vocabulary projection still runs in the embedding's compute dtype.
            dtype="float32",
            name="masked_lm_head",
        )
        self.next_sentence = next_sentence
        if not next_sentence:
            # Only the next-sentence head reads the pooled output: without it nothing trains the pooler, which keeps
            # its initial weights (as RoBERTa's) for fine-tuning to train, and weight decay leaves it alone.
            backbone.get_layer("pooled_dense").trainable = False
        self.next_sentence_head = (
            keras.layers.Dense(
                2, kernel_initializer=bert_initializer(), dtype=backbone.dtype_policy, name="next_sentence_head"
            )
            if next_sentence
            else None
        )
        # The task computes in the backbone's dtype policy (e.g. mixed_bfloat16), so compile() wraps
        # the optimizer in a LossScaleOptimizer for mixed_float16 without any global policy.
        kwargs.setdefault("dtype", backbone.dtype_policy)
        super().__init__(**kwargs)
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.dropout_seed = dropout_seed
        # Step batches trained on so far (float16 steps skipped for overflow included): the dropout key of the
        # next step, and the input position a resumed run skips to.
        self.batches_seen = self.add_weight(
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            name="batches_seen",
            aggregation="only_first_replica",
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.lm_loss_tracker = keras.metrics.Mean(name="lm_example_loss")
        self.nsp_loss_tracker = keras.metrics.Mean(name="next_sentence_loss")
        self.lm_accuracy = keras.metrics.SparseCategoricalAccuracy(name="masked_lm_accuracy")
        self.nsp_accuracy = keras.metrics.SparseCategoricalAccuracy(name="next_sentence_accuracy")
        self.gradient_norm_tracker = keras.metrics.Mean(name="gradient_norm")

    def call(self, batch: dict[str, tf.Tensor], training: bool = False) -> dict[str, tf.Tensor]:
        outputs = self.backbone(backbone_lib.backbone_inputs(batch), training=training)
        positions = tf.cast(batch[features.MASKED_LM_POSITIONS], tf.int32)
        logits = {"masked_lm_logits": self.masked_lm_head(outputs["sequence_output"], mask_positions=positions)}
        if self.next_sentence:
            logits["next_sentence_logits"] = self.next_sentence_head(outputs["pooled_output"])
        return logits

    def head_variables(self) -> dict[str, keras.Variable]:
        """The pre-training heads' variables by `backbone_lib.HEAD_WEIGHTS` names (the masked-LM decoder is the
        token embedding, so it is the backbone's)."""
        mlm = self.masked_lm_head
        variables = {
            "masked_lm/dense/kernel": mlm._intermediate_dense.kernel,
            "masked_lm/dense/bias": mlm._intermediate_dense.bias,
            "masked_lm/layer_norm/gamma": mlm._intermediate_layer_norm.gamma,
            "masked_lm/layer_norm/beta": mlm._intermediate_layer_norm.beta,
            "masked_lm/output_bias": mlm._bias,
        }
        if self.next_sentence:
            variables["next_sentence/kernel"] = self.next_sentence_head.kernel
            variables["next_sentence/bias"] = self.next_sentence_head.bias
        return variables

    def head_weights(self) -> dict[str, np.ndarray]:
        """The heads' weights as arrays by `head_variables` names (what the encoder checkpoint saves)."""
        return {name: keras.ops.convert_to_numpy(variable) for name, variable in self.head_variables().items()}

    def set_head_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Assigns head weights by `head_variables` names (an encoder checkpoint's, or an imported model's); the
        weights not given keep their values."""
        variables = self.head_variables()
        unknown = sorted(set(weights) - set(variables))
        if unknown:
            raise ValueError(f"unknown head weights {unknown}; the heads have {sorted(variables)}")
        for name, variable in variables.items():
            if name not in weights:
                continue
            if tuple(weights[name].shape) != tuple(variable.shape):
                raise ValueError(
                    f"head weight {name} has shape {weights[name].shape}; this model needs {variable.shape}"
                )
            variable.assign(weights[name])

    # Losses of a part (a replica's micro-batch) as shares of the whole batch's losses.

    @staticmethod
    def _totals(batch: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """The masked-LM weight and the number of examples of the whole batch, summed over every replica."""
        weight = tf.reduce_sum(tf.cast(batch[features.MASKED_LM_WEIGHTS], tf.float32))
        examples = tf.cast(tf.shape(batch[features.INPUT_WORD_IDS])[0], tf.float32)
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            weight, examples = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, [weight, examples]
            )
        return tf.maximum(weight, 1.0), examples

    @staticmethod
    def _loss_shares(
        part: dict[str, tf.Tensor], outputs: dict[str, tf.Tensor], totals: tuple[tf.Tensor, tf.Tensor]
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The part's masked-LM and next-sentence losses summed, each divided by the whole batch's total: summed
        over all parts, they are the batch's mean losses (the next-sentence one 0 without that task)."""
        weight_total, example_total = totals
        lm_logits = tf.cast(outputs["masked_lm_logits"], tf.float32)
        per_token = keras.losses.sparse_categorical_crossentropy(
            part[features.MASKED_LM_IDS], lm_logits, from_logits=True
        )
        weights = tf.cast(part[features.MASKED_LM_WEIGHTS], tf.float32)
        lm_share = tf.reduce_sum(per_token * weights) / weight_total
        if "next_sentence_logits" not in outputs:
            return lm_share, tf.constant(0.0)
        nsp_logits = tf.cast(outputs["next_sentence_logits"], tf.float32)
        per_example = keras.losses.sparse_categorical_crossentropy(
            part[features.NEXT_SENTENCE_LABELS], nsp_logits, from_logits=True
        )
        return lm_share, tf.reduce_sum(per_example) / example_total

    def _update_accuracies(self, part: dict[str, tf.Tensor], outputs: dict[str, tf.Tensor]) -> None:
        self.lm_accuracy.update_state(
            part[features.MASKED_LM_IDS], outputs["masked_lm_logits"], sample_weight=part[features.MASKED_LM_WEIGHTS]
        )
        if self.next_sentence:
            self.nsp_accuracy.update_state(part[features.NEXT_SENTENCE_LABELS], outputs["next_sentence_logits"])

    def _update_losses(self, lm_loss: tf.Tensor, nsp_loss: tf.Tensor) -> dict[str, tf.Tensor]:
        """Tracks this replica's shares of the batch's losses. Keras averages a metric over the replicas, so each
        adds its share times the replica count: the average is the sum of the shares, the batch's loss."""
        replicas = tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
        self.loss_tracker.update_state((lm_loss + nsp_loss) * replicas)
        self.lm_loss_tracker.update_state(lm_loss * replicas)
        if self.next_sentence:
            self.nsp_loss_tracker.update_state(nsp_loss * replicas)
        results = {metric.name: metric.result() for metric in self._pretraining_metrics()}
        results["perplexity"] = tf.exp(self.lm_loss_tracker.result())
        return results

    @staticmethod
    def _for_keras_logs(results: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        # Across workers Keras reduces each log with strategy.reduce("MEAN", value, axis=0), which
        # needs an axis to reduce: give the scalars one (keras 3.15; tests/models/pretraining/test_distribution.py).
        if distribution.in_multi_worker_mode(tf.distribute.get_strategy()):
            return {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' TF trainer builds a model before fit by reducing one distributed batch with
        # strategy.reduce, which MultiWorkerMirroredStrategy refuses for a dict of inputs. This task
        # has no compiled loss or metrics to build: once its weights exist (call it on a batch, as
        # run_fn does), there is nothing left to build. (keras 3.15; tests/models/pretraining/test_distribution.py)
        if not self.built:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    @property
    def metrics(self):
        # Listed here so that Keras resets them every logging period.
        return [*self._pretraining_metrics(), self.gradient_norm_tracker]

    def _pretraining_metrics(self):
        if not self.next_sentence:
            return [self.loss_tracker, self.lm_loss_tracker, self.lm_accuracy]
        return [self.loss_tracker, self.lm_loss_tracker, self.nsp_loss_tracker, self.lm_accuracy, self.nsp_accuracy]

    # The training step.

    def compile(self, *args, jit_compile="auto", **kwargs):
        """Keras' compile; with several replicas, XLA compiles each replica's gradients instead of the whole step.

        Keras would compile the step of all replicas as one XLA computation on one device, which cannot reach
        the other replicas' variables ("Trying to access resource ... located in device ... CPU:1"); here XLA
        compiles each replica's forward, backward and accumulation, and the sum over replicas and the optimizer
        run outside it.
        """
        optimizer = kwargs.get("optimizer", args[0] if args else None)
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # a float16 LossScaleOptimizer's own
        if not isinstance(inner, SummedGradients):
            raise ValueError(
                "BertPretrainer sums the gradients over replicas itself and needs an optimizer that does not: "
                "models.training.optimization.create_optimizer(..., summed_gradients=True)"
            )
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self._xla_per_replica = bool(jit_compile is True and replicas > 1)
        super().compile(*args, jit_compile=False if replicas > 1 else jit_compile, **kwargs)
        self._replica_gradients = (
            tf.function(self._accumulated_gradients, jit_compile=True)
            if self._xla_per_replica
            else self._accumulated_gradients
        )

    def _micro_batches(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """This replica's part of the step batch as [accumulation steps, micro-batch, ...], with `ROW_IN_STEP`.

        Without `ROW_IN_STEP` in the input (a dataset not made by the Trainer), rows are numbered as
        tf.distribute splits a batch: replica r holds the r-th contiguous slice.
        """
        steps = self.gradient_accumulation_steps
        static_rows = batch[features.INPUT_WORD_IDS].shape[0]
        if static_rows is not None and static_rows % steps:
            raise ValueError(
                f"a replica's part of the step batch has {static_rows} examples, which do not divide into "
                f"{steps} micro-batches (trainer.batch_size must be a multiple of the replica count)"
            )
        rows = tf.shape(batch[features.INPUT_WORD_IDS])[0]
        if ROW_IN_STEP not in batch:
            replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int32)
            batch = {**batch, ROW_IN_STEP: tf.range(rows) + replica * rows}
        return {
            name: tf.reshape(values, tf.concat([[steps, rows // steps], tf.shape(values)[1:]], axis=0))
            for name, values in batch.items()
        }

    def _accumulated_gradients(self, micro: dict[str, tf.Tensor], totals, step_key: tf.Tensor):
        """The summed gradients of this replica's micro-batches (loss-scaled), and its loss shares."""
        variables = self.trainable_variables

        def micro_step(index, gradients, lm_loss, nsp_loss):
            part = {name: values[index] for name, values in micro.items()}
            example_keys = keyed_random.combine(step_key, tf.cast(part[ROW_IN_STEP], tf.int64))
            with keyed_dropout.example_keys(example_keys), tf.GradientTape() as tape:
                outputs = self(part, training=True)
                lm_share, nsp_share = self._loss_shares(part, outputs, totals)
                scaled_loss = self.optimizer.scale_loss(lm_share + nsp_share)
            part_gradients = [tf.convert_to_tensor(g) for g in tape.gradient(scaled_loss, variables)]
            self._update_accuracies(part, outputs)
            if gradients is None:
                return index + 1, part_gradients, lm_share, nsp_share
            summed = [g + p for g, p in zip(gradients, part_gradients, strict=True)]
            return index + 1, summed, lm_loss + lm_share, nsp_loss + nsp_share

        _, gradients, lm_loss, nsp_loss = micro_step(tf.constant(0), None, None, None)
        if self.gradient_accumulation_steps > 1:
            _, gradients, lm_loss, nsp_loss = tf.while_loop(
                lambda index, *_: index < self.gradient_accumulation_steps,
                micro_step,
                (tf.constant(1), gradients, lm_loss, nsp_loss),
            )
        return gradients, lm_loss, nsp_loss

    def train_step(self, data):
        batch, _, _ = keras.utils.unpack_x_y_sample_weight(data)  # features only: the labels are features too
        totals = self._totals(batch)
        step_key = keyed_random.combine(tf.constant(self.dropout_seed, tf.int64), self.batches_seen)
        gradients, lm_loss, nsp_loss = self._replica_gradients(self._micro_batches(batch), totals, step_key)
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            gradients = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, gradients)
        # The whole step's gradient norm, before clipping, loss scaling undone.
        norm = tf.linalg.global_norm(gradients) / tf.cast(self.optimizer.scale_loss(1.0), tf.float32)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.batches_seen.assign_add(1)
        self.gradient_norm_tracker.update_state(norm)
        results = self._update_losses(lm_loss, nsp_loss)
        results["gradient_norm"] = self.gradient_norm_tracker.result()
        return self._for_keras_logs(results)

    def test_step(self, data):
        batch, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        outputs = self(batch, training=False)
        lm_loss, nsp_loss = self._loss_shares(batch, outputs, self._totals(batch))
        self._update_accuracies(batch, outputs)
        return self._for_keras_logs(self._update_losses(lm_loss, nsp_loss))
