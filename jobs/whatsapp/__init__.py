"""The WhatsApp blast system (seed 004): templates synced with the Cloud API, scheduled blasts, paced sends.

client.CloudApiClient         the Cloud API over httpx, with typed errors (errors.py)
blasts                        create / reschedule / cancel a blast (the BlastScheduler seam), due_blasts
sender.BlastSender            the send core: every recipient not yet sent, at most once, then settle the blast
pacing.Pacer / LocalPacer     the pacing seam (per-process default until shared rate limits exist)
templates.sync_templates      SUBMITTED → APPROVED / REJECTED
phones                        E.164 validation with libphonenumber
"""

from __future__ import annotations
