"""``smallfirst finetune``: the flywheel that turns escalations into a better local model.

* :mod:`~smallfirst.finetune.export` — the request log (escalated, non-sensitive, opted-in rows with
  the higher tier's accepted answer) or a task file → a chat-format SFT dataset, split by prompt,
  rendered with the target model's chat template, with a data card
* :mod:`~smallfirst.finetune.train` — QLoRA (bitsandbytes NF4, double quantisation) or plain LoRA
  with peft + transformers; seeded, checkpointed, resumable; memory checked first
  (:mod:`~smallfirst.finetune.memory`)
* :mod:`~smallfirst.finetune.lora_gguf` — the adapter as a llama.cpp LoRA GGUF
* :mod:`~smallfirst.finetune.gate` — base vs tuned on the held-out split with the eval scorers
  (:func:`smallfirst.evaluate.compare.compare`); promote only on a margin
* :mod:`~smallfirst.finetune.deploy` — versioned adapter, Ollama Modelfile, the ``promoted.json``
  pointer the embedded backend follows without a restart
* :mod:`~smallfirst.finetune.recalibrate` — cascade (and router) thresholds before/after, local share

torch, transformers, peft and bitsandbytes are imported inside functions only (the ``[finetune]`` extra).
"""
