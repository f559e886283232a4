export default function Home() {
  return (
    <main>
      <h1>Deployed with @acme/next-adapter</h1>
      <p>This page was prerendered at build time; the build output lives in .acme/output.</p>
      <img src="/logo.svg" alt="logo" width="64" height="64" />
    </main>
  )
}
