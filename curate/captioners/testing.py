"""A tiny, randomly initialised Qwen2-VL built fully offline (tests and CPU benchmarks).

``build_tiny_vlm(dir)`` trains a small BPE tokenizer with the Qwen chat/vision special
tokens, wraps it with a Qwen-style chat template, builds a ``Qwen2VLProcessor`` (small
min/max pixels) and a ``Qwen2VLForConditionalGeneration`` from a tiny config, and saves
all of it with ``save_pretrained`` — so callers load it through the REAL loading path by
local path. Its output is random text: assert plumbing, never wording.
"""

from __future__ import annotations

import os

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
           "<|image_pad|>", "<|video_pad|>"]

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' or 'image' in c %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CORPUS = (
    "a man rides a bike along a road. the camera pans left. a woman walks a dog in a park at sunset. "
    "two cyclists race downhill past trees. close-up of a rabbit in green grass under bright light. "
    "the scene changes to a city street at night with cars and neon signs. slow zoom in on a face. "
)


def build_tiny_vlm(path: str, vocab_size: int = 320, seed: int = 0, hidden_size: int = 32, heads: int = 4) -> str:
    """Write a tiny Qwen2-VL (processor + weights) to ``path``; return ``path``.

    Defaults give head_dim 8 (fastest on CPU). GPU engines such as vLLM need a supported
    attention head size: ``hidden_size=256, heads=4`` gives head_dim 64 (text and vision).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
    )

    os.makedirs(path, exist_ok=True)
    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator([CORPUS] * 20, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                  bos_token=None, chat_template=CHAT_TEMPLATE)
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    pixels = dict(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)
    image_processor = Qwen2VLImageProcessor(**pixels)
    kwargs = {}
    try:
        from transformers import Qwen2VLVideoProcessor

        kwargs["video_processor"] = Qwen2VLVideoProcessor(**pixels)
    except ImportError:  # older transformers: no separate video processor
        pass
    processor = Qwen2VLProcessor(image_processor=image_processor, tokenizer=tok, chat_template=CHAT_TEMPLATE, **kwargs)
    half = hidden_size // heads // 2  # rotary pairs per head, split over (time, height, width)
    mrope = [half - 2 * (half // 4), half // 4, half // 4]
    text_config = dict(vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                       num_hidden_layers=2, num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                       max_position_embeddings=2048, rope_scaling={"type": "mrope", "mrope_section": mrope},
                       bos_token_id=ids["<|im_start|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    vision_config = dict(depth=1, embed_dim=hidden_size, hidden_size=hidden_size, num_heads=heads, mlp_ratio=2,
                         patch_size=14,
                         spatial_merge_size=2, temporal_patch_size=2, in_channels=3)
    cfg = Qwen2VLConfig(text_config=text_config, vision_config=vision_config,
                        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
                        bos_token_id=ids["<|im_start|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
