"""Shared code of the training images: URI-addressed blob storage and the trainer's checkpoint layout.

``blobstore.storage`` (local, s3://, gs://) is used by all three images; ``blobstore.checkpoints`` (manifest,
publish, verify, prune; no torch) by the trainer and the compressor; ``blobstore.dcp`` (torch) adapts
``torch.distributed.checkpoint`` to checkpoints kept in a bucket.
"""
