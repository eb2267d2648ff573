// Agent text as Markdown. Agent output is untrusted: react-markdown renders no raw HTML (it is
// shown as text), and its default URL filter drops `javascript:` and other unsafe links.
import ReactMarkdown from "react-markdown";
import remarkGfm from "remark-gfm";
import rehypeHighlight from "rehype-highlight";

export function Markdown({ text }: { text: string }) {
  return (
    <div className="md">
      <ReactMarkdown remarkPlugins={[remarkGfm]} rehypePlugins={[[rehypeHighlight, { detect: false }]]}>
        {text}
      </ReactMarkdown>
    </div>
  );
}
