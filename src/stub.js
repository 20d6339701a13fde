window.reftrack = window.reftrack || function () { (reftrack.q = reftrack.q || []).push(arguments) };
