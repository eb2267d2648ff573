// An inline "are you sure" for what cannot be undone: the destructive button, then the real one
// beside a way back. Shared by the session screens and the Plugins tab.
import { useState } from "react";

export function Confirm({
  label,
  question,
  onConfirm,
  id,
  disabled,
}: {
  label: string;
  question: string;
  onConfirm: () => void;
  id: string;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button className="danger" data-action={`ask-${id}`} onClick={() => setAsking(true)} disabled={disabled}>
        {label}
      </button>
    );
  return (
    <span className="confirm" role="alertdialog" aria-label={question}>
      <span>{question}</span>
      <button
        className="danger"
        data-action={`confirm-${id}`}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes, {label.toLowerCase()}
      </button>
      <button onClick={() => setAsking(false)} data-action={`cancel-${id}`}>
        Cancel
      </button>
    </span>
  );
}
