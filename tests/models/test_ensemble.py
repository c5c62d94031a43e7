"""Ensemble: its output is the log of the members' mean probability (oracle: the mean of their softmax)."""

from __future__ import annotations

import pytest
import torch

from digitrec.models import Classifier, Ensemble, create_model


def _members(*names: str) -> list[Classifier]:
    torch.manual_seed(0)
    return [Classifier(create_model(name), 0.1307, 0.3081).eval() for name in names]


def test_softmax_of_the_output_is_the_mean_of_the_members_softmax():
    members = _members("mlp", "lenet", "mlp")  # two MLPs with different weights: the seed runs on
    ensemble = Ensemble(members).eval()
    images = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        log_probs = ensemble(images)
        expected = torch.stack([torch.softmax(member(images), dim=1) for member in members]).mean(dim=0)
    assert log_probs.shape == (6, 10)
    torch.testing.assert_close(torch.softmax(log_probs, dim=1), expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(log_probs.exp().sum(dim=1), torch.ones(6))  # already normalised
    assert torch.equal(log_probs.argmax(dim=1), expected.argmax(dim=1))


def test_a_class_every_member_rules_out_stays_finite():
    class Sure(torch.nn.Module):
        def forward(self, images):
            return torch.tensor([[0.0, -1e4]]).expand(len(images), 2)  # softmax of class 1 underflows to 0

    log_probs = Ensemble([Sure(), Sure()])(torch.zeros(3, 1, 28, 28))
    assert torch.isfinite(log_probs).all() and log_probs[0, 1] < -1e3


def test_fewer_than_two_members_is_refused():
    with pytest.raises(ValueError, match="at least 2 members"):
        Ensemble(_members("mlp"))
