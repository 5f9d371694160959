// Shows, while the board fills the decision form, whether the chosen option is one of the rules'
// (the server decides concordance again when saving; this is only a hint). No inline script: CSP.
document.addEventListener("DOMContentLoaded", () => {
  const option = document.getElementById("option");
  const other = document.getElementById("other");
  const out = document.getElementById("concordance");
  if (!option || !out) return;
  const recommended = JSON.parse(option.dataset.recommended || "[]");
  const update = () => {
    const chosen = (other && other.value.trim()) || option.value;
    const concordant = recommended.includes(chosen);
    out.textContent = concordant ? "Concordant with the rules." : "Not concordant with the rules: give the reason.";
    out.className = concordant ? "supporting" : "contrasting";
    document.getElementById("reason").required = !concordant;
  };
  option.addEventListener("change", update);
  if (other) other.addEventListener("input", update);
  update();
});
