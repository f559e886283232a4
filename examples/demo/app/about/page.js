export const revalidate = 30

export default function About() {
  return (
    <main>
      <h1>About</h1>
      <p>Regenerated at most every 30 seconds: {new Date().toISOString()}</p>
    </main>
  )
}
